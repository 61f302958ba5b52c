"""Ethereal Flame Studio renderer: audio in → audio-reactive MP4 out.

One Warp kernel source renders on the CPU (tests, local emulator) and on CUDA (Modal). See
docs/RENDER_CONTRACT.md for the HTTP contract and docs/RENDERER.md for the engine.
"""
