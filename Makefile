.PHONY: demo test bench docs dist tarball deb
demo:
	scripts/demo.sh
test:
	scripts/test.sh
bench:
	bench/run.sh
# Regenerates man/ and completions/ from the clap definitions (after any change to src/cli/).
docs:
	SKIFF_REGENERATE_DOCS=1 cargo test --test it docs::
# Release artefacts in dist/: the `dist` profile's binary, the tarball (with install.sh) and the
# Debian package. The RPM builds from the tarball: see packaging/rpm/skiff.spec.
dist:
	cargo build --profile dist
tarball: dist
	packaging/make-tarball.sh target/dist/skiff dist
deb: dist
	packaging/build-deb.sh target/dist/skiff dist
