"""Auto-parallel: device meshes, tensor layouts, redistribution, communicators, the cost model and plan JSON.

- ``DeviceMesh`` (``mesh.py``): devices on an n-d grid with named axes and sub-groups along axes.
- ``TensorLayout`` (``layout.py``): MindSpore's device matrix + tensor map; slices per device.
- ``redistribute`` (``redistribution.py``): the cheapest collectives from one layout to another.
- ``comm/``: the ``Communicator`` interface; ``SimWorld`` (in-process) and ``MPICommunicator`` (mpi4py).
- ``collectives.py``: alpha-beta cost model per collective and topology; device profiles; ``calibrate``.
- ``plan_json.py``: the ``Plan`` model and plan JSON (schema in ``schema/plan.schema.json``).
- ``context.py``: ``set_auto_parallel_context`` and friends (also exported as ``mindlab.set_auto_parallel_context``).
- ``strategy.py``: per-op strategies from the registry's shard rules (``check_strategy``, ``OpSharding``).
- ``cost_model.py``: compute, communication and memory per device of ops and redistributions.
- ``planner/``: the strategy search (``plan``: sharding propagation, dynamic programming, ILP) -> ``ParallelPlan``.
- ``spmd.py``: lowering a plan to the per-device graph with collectives as IR nodes.
- ``execute.py``: ``ParallelProgram`` — run every rank on the sim backend, or this rank of an MPI job.
"""
from .mesh import DeviceMesh
from .layout import TensorLayout, LayoutError
from .collectives import (DeviceProfile, CollectiveCost, PROFILES, get_profile, collective_cost, compute_time,
                          calibrate)
from .redistribution import RedistStep, Redistribution, redistribute
from .comm import (Communicator, CommunicationError, SimWorld, SimCommunicator, MPICommunicator)
from .plan_json import (Plan, OpPlan, TensorPlan, CollectivePlan, Alternative, OpCost, PlanJSONError,
                        validate_plan_json, check_references, MIME as PLAN_MIME)
from .context import (ParallelMode, set_auto_parallel_context, get_auto_parallel_context,
                      reset_auto_parallel_context, current_mesh, current_profile)
from .strategy import StrategyError, OpSharding, check_strategy
from .cost_model import CostModel
from .planner import plan, plan_graph, ParallelPlan, PlanError
from .spmd import lower, lower_data_parallel, SPMDGraph
from .execute import ParallelProgram, parallelize

__all__ = ["StrategyError", "OpSharding", "check_strategy", "CostModel", "plan", "plan_graph", "ParallelPlan",
           "PlanError", "lower", "lower_data_parallel", "SPMDGraph", "ParallelProgram", "parallelize",
           "DeviceMesh", "TensorLayout", "LayoutError", "DeviceProfile", "CollectiveCost", "PROFILES", "get_profile",
           "collective_cost", "compute_time", "calibrate", "RedistStep", "Redistribution", "redistribute",
           "Communicator", "CommunicationError", "SimWorld", "SimCommunicator", "MPICommunicator", "Plan", "OpPlan",
           "TensorPlan", "CollectivePlan", "Alternative", "OpCost", "PlanJSONError", "validate_plan_json",
           "check_references", "PLAN_MIME", "ParallelMode", "set_auto_parallel_context", "get_auto_parallel_context",
           "reset_auto_parallel_context", "current_mesh", "current_profile"]
