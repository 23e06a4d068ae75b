"""Type stub of the compiled descent (``_descent.pyx``)."""

import numpy as np
import numpy.typing as npt

def descend(
    x: npt.NDArray[np.int64],
    anchored: npt.NDArray[np.uint8],
    travel: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    lo: npt.NDArray[np.float64],
    hi: npt.NDArray[np.float64],
    warp_weight: float,
    span: int,
    reach: int,
    around_lo: int,
    around_hi: int,
    deadline: float,
) -> tuple[int, int, int]: ...
