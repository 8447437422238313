complete --keep-order --exclusive --command skiff --arguments "(SKIFF_COMPLETE=fish skiff -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
