"""CLI subcommands. Each module has ``add_parser(subparsers)`` which registers the subcommand with
``set_defaults(run=...)``; ``run(args) -> int`` returns the exit code. ``liteconvert.cli`` lists the modules."""
