.PHONY: demo test bench docs
demo:
	scripts/demo.sh
test:
	scripts/test.sh
bench:
	bench/run.sh
# Regenerates man/ and completions/ from the clap definitions (after any change to src/cli/).
docs:
	SKIFF_REGENERATE_DOCS=1 cargo test --test it docs::
