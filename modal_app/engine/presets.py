"""Looks: the seed's particle-layer presets per mode (§11.5) and Star Nest nebula presets (§11.1), keyed by
the contract's `modes` and `skyboxPresets` ids.

Star Nest parameters are stored in the seed's (Unity material) units and converted to shader units in
`NebulaPreset.shader_params`: formuparam, stepSize, tile and brightness ÷ 1000; darkmatter, distfading
and saturation ÷ 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import rules

# The contract owns the ids, labels and defaults; this module owns the shader parameters of each id
# (a test checks that every contract mode and skybox preset has them).
MODES = rules.ids("modes")


@dataclass(frozen=True)
class Layer:
    id: str
    count: int
    base_size: float
    spawn_radius: float
    max_speed: float
    lifetime: float
    reactivity: float
    band: str  # bass | mids | treble | all
    size_birth: float = 0.37
    size_peak: float = 1.0
    size_death: float = 0.5
    peak_life: float = 0.2
    color_start: tuple[float, float, float] | None = None
    opacity: float = 1.0

    @property
    def branch(self) -> str:
        # The seed branches on the layer id, not on the mode.
        if "flame" in self.id:
            return "flame"
        if "mist" in self.id:
            return "mist"
        return "default"


@dataclass(frozen=True)
class Mode:
    name: str
    palette: tuple[tuple[float, float, float], ...]
    layers: tuple[Layer, ...]


MODE_PRESETS: dict[str, Mode] = {
    "flame": Mode(
        "flame",
        ((1.0, 1.0, 0.9), (1.0, 0.43, 0.47), (1.0, 0.27, 0.0)),
        (
            Layer("inner-glow", 35, 5.5, 0.35, 0.03, 3.0, 2.5, "mids", 0.2, 1.0, 0.3, 0.25, (0.8, 0.9, 1.0)),
            Layer("outer-halo", 25, 7.0, 0.5, 0.02, 4.0, 2.0, "treble", 0.15, 1.0, 0.25, 0.3, (0.4, 0.6, 0.9)),
        ),
    ),
    "mist": Mode(
        "mist",
        ((0.8, 0.2, 0.9), (0.3, 0.6, 1.0), (1.0, 0.4, 0.8)),
        (
            Layer("mist-core", 25, 7.0, 0.15, 0.015, 4.0, 2.5, "mids", 0.25, 1.0, 0.3, 0.5),
            Layer("ambient-haze", 20, 8.0, 0.2, 0.01, 5.0, 2.0, "treble", 0.2, 1.0, 0.25, 0.55),
        ),
    ),
    "solar": Mode(
        "solar",
        ((1.0, 0.97, 0.9), (1.0, 0.78, 0.3), (1.0, 0.45, 0.1)),
        (
            Layer("solar-core", 80, 4.0, 0.08, 0.001, 2.5, 3.0, "bass", color_start=(1.0, 0.97, 0.9)),
            Layer("corona", 40, 8.0, 0.25, 0.005, 3.5, 2.5, "mids", color_start=(1.0, 0.78, 0.3), opacity=0.85),
            Layer("flares", 15, 12.0, 0.4, 0.003, 5.0, 2.0, "treble", color_start=(1.0, 0.45, 0.1), opacity=0.6),
        ),
    ),
}


@dataclass(frozen=True)
class NebulaPreset:
    iterations: int
    volsteps: int
    formuparam: float
    step_size: float
    tile: float
    brightness: float
    darkmatter: float
    distfading: float
    saturation: float
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    center: tuple[float, float, float] = (0.0, 0.3, 0.5)
    scroll: tuple[float, float, float] = (0.1, 0.1, -0.3)
    rotation: tuple[float, float, float, float] = (1.0, 10.0, 0.0, 0.5)

    def shader_params(self) -> dict[str, float]:
        return {
            "iterations": self.iterations,
            "volsteps": self.volsteps,
            "formuparam": self.formuparam / 1000.0,
            "step_size": self.step_size / 1000.0,
            "tile": self.tile / 1000.0,
            "brightness": self.brightness / 1000.0,
            "darkmatter": self.darkmatter / 100.0,
            "distfading": self.distfading / 100.0,
            "saturation": self.saturation / 100.0,
        }


NEBULA_PRESETS: dict[str, NebulaPreset] = {
    # The seed's default, exactly as §11.1 lists it.
    "darkWorld1": NebulaPreset(16, 15, 420.2, 312.2, 796.96, 0.63, 40, 50, 62),
    # Classic Star Nest values (Pablo Román Andrioli's original shader) in the same units.
    "normal": NebulaPreset(17, 20, 530, 100, 850, 1.5, 30, 73, 85, center=(1.0, 0.5, 0.5)),
    "purple": NebulaPreset(17, 18, 530, 150, 850, 1.2, 30, 70, 85, color=(0.75, 0.45, 1.0)),
    "galaxies": NebulaPreset(18, 20, 500, 120, 900, 1.0, 20, 75, 70, color=(0.8, 0.9, 1.0)),
    "greenNebula1": NebulaPreset(16, 16, 480, 200, 820, 0.9, 35, 65, 75, color=(0.5, 1.0, 0.6)),
}

DEFAULT_NEBULA = rules.DEFAULTS["skyboxPreset"]


@dataclass(frozen=True)
class VisualConfig:
    """A render's look, built from a validated request (`service/contract.py`); it checks nothing itself."""

    mode: str = rules.DEFAULTS["mode"]
    skybox_preset: str = DEFAULT_NEBULA
    intensity: float = rules.DEFAULTS["intensity"]
    skybox_reactivity: float = rules.DEFAULTS["skyboxReactivity"]
    background: bool = True
    dynamics: dict[str, float] = field(default_factory=dict)
