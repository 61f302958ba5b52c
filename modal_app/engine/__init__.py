"""The render engine: audio analysis, dynamics, particles, presets, the Warp kernels, the scene, the
formats, encoding (parallel and chunked), spherical metadata, one validated `RenderSpec` and the CLI
(`python -m modal_app.engine.render`). No HTTP, no webhooks, no storage."""
