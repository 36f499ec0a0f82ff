"""facekit: face detection (MTCNN, 5 landmarks), 106-point landmarks and head pose.

    import cv2, facekit
    detector = facekit.FaceDetector(min_face_size=20, thresholds=(0.6, 0.7, 0.7), num_threads=1)
    faces = detector.detect(cv2.imread("photo.jpg"))     # BGR arrays, as OpenCV gives them
    faces = detector.detect("photo.jpg")                 # or a path
    facekit.to_modelscope(faces)   # {"scores": [...], "boxes": [...], "keypoints": [...]}

Images are HxWx3 uint8 arrays in BGR order unless ``rgb=True`` (HxW arrays are gray), or paths
(read with facekit's checked loader). Coordinates are continuous pixel coordinates: (0, 0) is
the top-left corner of the top-left pixel. Models run without the GIL: threads each with their
own detector run in parallel. Errors from the library raise :class:`facekit.Error` with the
library's one-line message (and ``.code``: "bad_image", "io_error", "invalid_argument", ...).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _facekit
from ._facekit import Error

__version__: str = _facekit.__version__
__all__ = ["FaceDetector", "FaceLandmarker", "Face", "FaceLandmarks", "Pose", "Error", "to_modelscope", "draw",
           "load_image", "__version__"]

ImageLike = Union[np.ndarray, str, os.PathLike]

# Models shipped inside an installed package (pip install .); in the build tree the library
# finds them itself ($FACEKIT_MODEL_DIR, the source tree's models/ and weights/).
_PACKAGE_MODELS = Path(__file__).resolve().parent / "models"


def _model(path: Optional[Union[str, os.PathLike]], name: str) -> str:
    if path is not None:
        return os.fspath(path)
    if not os.environ.get("FACEKIT_MODEL_DIR") and (_PACKAGE_MODELS / name).is_file():
        return str(_PACKAGE_MODELS / name)
    return ""


def _thresholds(t: Sequence[float]) -> Tuple[float, float, float]:
    t = tuple(float(x) for x in t)
    if len(t) != 3:
        raise ValueError(f"thresholds must be three numbers (P-, R-, O-Net), got {len(t)}")
    return t  # type: ignore[return-value]


def _is_path(image: Any) -> bool:
    return isinstance(image, (str, os.PathLike))


def _check_array(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (HxWx3 or HxW, uint8) or a path, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be a uint8 array, not {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"image must have shape (H, W, 3) or (H, W); got {image.shape}")
    return image


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees (signs of AFLW2000-3D): yaw > 0 turns towards the image's left,
    pitch > 0 up, roll > 0 clockwise in the image."""
    pitch: float
    yaw: float
    roll: float


@dataclass(eq=False)
class Face:
    """One detected face.

    score: O-Net face probability in [0, 1]; box: (x1, y1, x2, y2) in pixels; landmarks: 5x2
    float32 array: left eye, right eye, nose tip, left and right mouth corner ("left" is the
    image's left for the face seen upright)."""
    score: float
    box: Tuple[float, float, float, float]
    landmarks: np.ndarray


@dataclass(eq=False)
class FaceLandmarks(Face):
    """A face with its 106 points (106x2 float32, the facekit-106 layout) and head pose.
    confidence: the landmark backend's confidence (the detector's score for landmark106)."""
    points: np.ndarray = field(default_factory=lambda: np.zeros((106, 2), np.float32))
    pose: Pose = field(default_factory=lambda: Pose(0.0, 0.0, 0.0))
    confidence: float = 0.0


def _faces(d: Dict[str, np.ndarray]) -> List[Face]:
    return [Face(float(s), tuple(float(x) for x in b), lm) for s, b, lm in zip(d["scores"], d["boxes"], d["landmarks"])]


def _landmarks(d: Dict[str, np.ndarray]) -> List[FaceLandmarks]:
    return [FaceLandmarks(float(s), tuple(float(x) for x in b), lm, pts, Pose(*(float(x) for x in pose)), float(c))
            for s, b, lm, pts, pose, c in zip(d["scores"], d["boxes"], d["landmarks"], d["points"], d["poses"], d["confidence"])]


class FaceDetector:
    """MTCNN face detector with 5 landmarks.

    One detector per thread: calls on one detector from several threads take turns.
    ``num_threads`` > 1 parallelises one ``detect`` call."""

    def __init__(self, min_face_size: int = 20, thresholds: Sequence[float] = (0.6, 0.7, 0.7), num_threads: int = 1, *,
                 all_orientations: bool = False, model_path: Optional[Union[str, os.PathLike]] = None) -> None:
        self._impl = _facekit.Detector(int(min_face_size), _thresholds(thresholds), int(num_threads), bool(all_orientations),
                                       _model(model_path, "mtcnn.safetensors"))

    def detect(self, image: ImageLike, rgb: bool = False) -> List[Face]:
        """Faces in ``image`` (an HxWx3 uint8 array, BGR unless ``rgb=True``, HxW gray, or a path),
        by descending score. Raises facekit.Error for an image the library refuses."""
        if _is_path(image):
            return _faces(self._impl.detect_path(os.fspath(image)))
        return _faces(self._impl.detect_array(_check_array(image), "rgb" if rgb else "bgr"))

    __call__ = detect


class FaceLandmarker:
    """Faces with 106 points and head pose: the detector, then the landmark model on each face.

    backend: "landmark106" (facekit's own model, default) or "mesh" (MediaPipe face mesh)."""

    def __init__(self, min_face_size: int = 20, thresholds: Sequence[float] = (0.6, 0.7, 0.7), num_threads: int = 1, *,
                 all_orientations: bool = True, backend: str = "landmark106", refine_passes: int = -1,
                 model_path: Optional[Union[str, os.PathLike]] = None, detector_model_path: Optional[Union[str, os.PathLike]] = None,
                 mesh_model_path: Optional[Union[str, os.PathLike]] = None) -> None:
        self._impl = _facekit.Landmarker(int(min_face_size), _thresholds(thresholds), int(num_threads), bool(all_orientations),
                                         _model(detector_model_path, "mtcnn.safetensors"), backend,
                                         _model(model_path, "landmark106.safetensors"), _model(mesh_model_path, "facemesh.safetensors"),
                                         int(refine_passes))

    def detect(self, image: ImageLike, rgb: bool = False) -> List[FaceLandmarks]:
        """Faces in ``image`` with their 106 points and pose (same image conventions as FaceDetector.detect)."""
        if _is_path(image):
            return _landmarks(self._impl.detect_path(os.fspath(image)))
        return _landmarks(self._impl.detect_array(_check_array(image), "rgb" if rgb else "bgr"))

    __call__ = detect


def to_modelscope(faces: Sequence[Face]) -> Dict[str, list]:
    """The dict ModelScope's pipelines return, as plain lists.

    Detections (FaceDetector): face_detection's {"scores": [s], "boxes": [[x1, y1, x2, y2]],
    "keypoints": [[x1, y1, ..., x5, y5]]}. Landmarks (FaceLandmarker): face_2d_keypoints'
    {"boxes": [[x1, y1, x2, y2]], "keypoints": [[[x, y] x 106]], "poses": [[pitch, roll, yaw]]}."""
    faces = list(faces)
    boxes = [[float(x) for x in f.box] for f in faces]
    if faces and all(isinstance(f, FaceLandmarks) for f in faces):
        return {"boxes": boxes,
                "keypoints": [np.asarray(f.points, np.float64).tolist() for f in faces],
                "poses": [[f.pose.pitch, f.pose.roll, f.pose.yaw] for f in faces]}
    return {"scores": [float(f.score) for f in faces],
            "boxes": boxes,
            "keypoints": [np.asarray(f.landmarks, np.float64).reshape(-1).tolist() for f in faces]}


def load_image(path: Union[str, os.PathLike], rgb: bool = False) -> np.ndarray:
    """Reads an image with facekit's checked loader: HxWx3 uint8 (BGR unless rgb=True), HxW for gray files."""
    return _facekit.load_image(os.fspath(path), not rgb)


def draw(image: ImageLike, result: Sequence[Face], rgb: bool = False) -> np.ndarray:
    """A copy of ``image`` with ``result`` drawn on it: boxes, scores and 5 points for detections;
    106 points, box and pose axes for landmarks. Returns HxWx3 uint8 in the input's colour order
    (BGR unless rgb=True; a path is read as BGR unless rgb=True)."""
    img = load_image(image, rgb) if _is_path(image) else _check_array(image)
    order = "rgb" if rgb else "bgr"
    faces = list(result)
    n = len(faces)
    scores = np.array([f.score for f in faces], np.float32)
    boxes = np.array([f.box for f in faces], np.float32).reshape(n, 4)
    lms = np.array([f.landmarks for f in faces], np.float32).reshape(n, 5, 2)
    if faces and all(isinstance(f, FaceLandmarks) for f in faces):
        points = np.array([f.points for f in faces], np.float32).reshape(n, 106, 2)
        poses = np.array([[f.pose.pitch, f.pose.yaw, f.pose.roll] for f in faces], np.float32).reshape(n, 3)
        return _facekit.draw_landmarks(img, order, scores, boxes, lms, points, poses)
    return _facekit.draw_detections(img, order, scores, boxes, lms)
