"""The command line: click commands, shared options, exit codes."""
