"""`python -m mkdocs_imagegen`: the same command line as `mkdocs-imagegen`."""

from mkdocs_imagegen.cli import main

if __name__ == "__main__":
    main()
