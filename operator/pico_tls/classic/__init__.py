"""`pico-tls keystores`: the seed's keytool procedure automated for classic installs.

`plan` decides (pure: options and existing material in, store bytes and files out), `layout`
reads and writes the output folder, `command` is the CLI subcommand.
"""
