"""`pico-tls keystores`: the seed's keytool procedure automated for classic installs.

`folder_plan` decides (pure: options and what DIR holds in, store bytes and files out), `layout`
reads and writes the output folder, `command` is the CLI subcommand.
"""
