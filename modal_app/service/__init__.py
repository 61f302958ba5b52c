"""The render service around the engine: the HTTP contract (validated into a `RenderSpec`), the web app,
the job runner, status state, signed webhooks, transfers through signed URLs, and the local emulator.
`modal_app/app.py` is the Modal entry point."""
