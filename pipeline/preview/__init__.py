"""The preview desk: every channel of every notice side by side, live as the YAML is edited.

A local web app (Starlette + uvicorn, bound to 127.0.0.1 only) that runs the same incremental
build as ``noticecast build``, but into its own cache folder, and shows what came out:

    state.py      the build into the cache folder and what the pages read from it (a Snapshot)
    outputs.py    the files a build wrote for a notice, read back from the cache
    views.py      what each page shows, as plain data for the templates
    digests.py    the SMS digest a subscriber of each affected area would receive
    delivered.py  what the delivery ledger says was delivered (read-only, never created)
    page.py       the newspaper page for an issue date: blocks on the grid, what did not fit
    files.py      serving cache files safely (no path traversal)
    events.py     Server-Sent Events to the open pages
    watch.py      watchfiles on content/, templates/ and the config -> rebuild -> event
    app.py        the routes
    server.py     binding to 127.0.0.1 and running uvicorn (in the foreground or a thread)

The templates are in templates/preview/ (CSS and script inline: the desk loads nothing from
elsewhere).

The preview never publishes and never writes outside its cache folder.
"""
