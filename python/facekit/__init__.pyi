# Type stubs for facekit (python/facekit/__init__.py).
import os
from dataclasses import dataclass
from typing import Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str
ImageLike = Union[npt.NDArray[np.uint8], str, os.PathLike[str]]

class Error(RuntimeError):
    """A failure reported by the library, with its one-line message."""
    code: Literal["invalid_argument", "io_error", "bad_image", "bad_model", "internal"]

@dataclass(frozen=True)
class Pose:
    pitch: float
    yaw: float
    roll: float

@dataclass(eq=False)
class Face:
    score: float
    box: Tuple[float, float, float, float]
    landmarks: npt.NDArray[np.float32]  # (5, 2)

@dataclass(eq=False)
class FaceLandmarks(Face):
    points: npt.NDArray[np.float32]  # (106, 2)
    pose: Pose
    confidence: float

class FaceDetector:
    def __init__(self, min_face_size: int = 20, thresholds: Sequence[float] = (0.6, 0.7, 0.7), num_threads: int = 1, *,
                 all_orientations: bool = False, model_path: Optional[Union[str, os.PathLike[str]]] = None) -> None: ...
    def detect(self, image: ImageLike, rgb: bool = False) -> List[Face]: ...
    def __call__(self, image: ImageLike, rgb: bool = False) -> List[Face]: ...

class FaceLandmarker:
    def __init__(self, min_face_size: int = 20, thresholds: Sequence[float] = (0.6, 0.7, 0.7), num_threads: int = 1, *,
                 all_orientations: bool = False, backend: Literal["landmark106", "mesh"] = "landmark106", refine_passes: int = -1,
                 model_path: Optional[Union[str, os.PathLike[str]]] = None,
                 detector_model_path: Optional[Union[str, os.PathLike[str]]] = None,
                 mesh_model_path: Optional[Union[str, os.PathLike[str]]] = None) -> None: ...
    def detect(self, image: ImageLike, rgb: bool = False) -> List[FaceLandmarks]: ...
    def __call__(self, image: ImageLike, rgb: bool = False) -> List[FaceLandmarks]: ...

def to_modelscope(faces: Sequence[Face]) -> Dict[str, list]: ...
def load_image(path: Union[str, os.PathLike[str]], rgb: bool = False) -> npt.NDArray[np.uint8]: ...
def draw(image: ImageLike, result: Sequence[Face], rgb: bool = False) -> npt.NDArray[np.uint8]: ...
