"""Route planning: instant evaluation, edits with undo, the OR-Tools optimizer, insertion.

Times are seconds since the plan's origin (local midnight of the planning day); see
:mod:`dispatcher.planning.model`. OR-Tools is imported only by the optimizer modules
(``routing``, ``optimize``, ``vrptw``), which this package does not import eagerly, so the
board can evaluate drags without loading the solver.
"""

from dispatcher.planning.commands import (
    MoveToVehicle,
    MoveWithinRoute,
    ReplaceRoutes,
    RouteCommand,
    SetLocks,
    Unassign,
    UndoStack,
)
from dispatcher.planning.evaluate import (
    EvaluationDiff,
    PlanEvaluation,
    RouteEvaluation,
    diff,
    evaluate_plan,
    evaluate_route,
)
from dispatcher.planning.insertion import InsertionSuggestion, suggest_insertions
from dispatcher.planning.locks import lock_violations
from dispatcher.planning.model import (
    Plan,
    PlanMatrix,
    PlanStop,
    PlanVehicle,
    from_plan_seconds,
    to_plan_seconds,
)

__all__ = [
    "EvaluationDiff",
    "InsertionSuggestion",
    "MoveToVehicle",
    "MoveWithinRoute",
    "Plan",
    "PlanEvaluation",
    "PlanMatrix",
    "PlanStop",
    "PlanVehicle",
    "ReplaceRoutes",
    "RouteCommand",
    "RouteEvaluation",
    "SetLocks",
    "Unassign",
    "UndoStack",
    "diff",
    "evaluate_plan",
    "evaluate_route",
    "from_plan_seconds",
    "lock_violations",
    "suggest_insertions",
    "to_plan_seconds",
]
