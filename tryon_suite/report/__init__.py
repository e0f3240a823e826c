"""The HTML kit every report uses: the Jinja environment and templates, charts as PNG data
URIs, the dashboard of the latest run of each kind; `drift/`, what changed between two runs."""
