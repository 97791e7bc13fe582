"""Plan JSON: the Plan model writes documents that validate; malformed documents fail with path errors."""
import copy
import json
import math

import jsonschema
import pytest

import mindlab as ms
from mindlab.parallel import (Alternative, DeviceMesh, OpCost, Plan, PlanJSONError, TensorLayout, collective_cost,
                              redistribute, validate_plan_json, PLAN_MIME)
from mindlab.ir.schema import load


def matmul_plan():
    """y = relu(x @ w) on a (dp=2, mp=4) mesh, with the contracted dim split: the MatMul leaves partial sums that
    one all_reduce over mp completes."""
    mesh = DeviceMesh((2, 4), ("dp", "mp"))
    plan = Plan(mesh, "semi_auto_parallel", "sharding_propagation", "cpu", memory_limit=1 << 20, title="mlp",
                search={"explored": 3})
    x = plan.add_tensor("x", TensorLayout.from_strategy((2, 4), mesh, (8, 16)), ms.float32, role="input")
    w = plan.add_tensor("w", TensorLayout.from_strategy((4, 1), mesh, (16, 32)), "float32", role="parameter")
    partial = TensorLayout(mesh, (1, -1), (8, 32), partial=["mp"])
    y = plan.add_tensor("matmul_out", partial)
    alts = [Alternative(((2, 4), (4, 1)), OpCost(1e-6, 2e-6, 4096), True, "lowest total cost"),
            Alternative(((2, 1), (1, 4)), OpCost(1e-6, 5e-6, 6144), False, "higher communication"),
            Alternative(((8, 1), (1, 1)), OpCost(4e-7, math.inf, 1 << 22), False, "over the memory limit")]
    mm = plan.add_op("MatMul", ((2, 4), (4, 1)), [x, w], [y], OpCost(1e-6, 2e-6, 4096), alts, "lowest total cost",
                     source={"file": "net.py", "line": 12, "text": "x = self.matmul(x, self.w)"}, node="n5")
    z = plan.add_tensor("relu_out", TensorLayout(mesh, (1, -1), (8, 32)), role="output")
    reduced = TensorLayout(mesh, (1, -1), (8, 32))
    r = redistribute(partial, reduced, profile=plan.profile)
    plan.add_redistribution(y, r, op=mm, where="output", index=0, reason="MatMul's contracted dim is split over mp")
    plan.add_op("ReLU", ((2, 1),), [y], [z], OpCost(2e-7, 0, 1024), reason="follows its input")
    return plan


def test_plan_serializes_validates_and_roundtrips():
    plan = matmul_plan()
    doc = plan.to_json()
    assert doc["format"] == PLAN_MIME and doc["version"] == 1
    json.dumps(doc, allow_nan=False)                   # plain JSON, no NaN/Infinity
    assert doc["mesh"] == {"shape": [2, 4], "axis_names": ["dp", "mp"], "device_ids": list(range(8))}
    op = doc["ops"][0]
    assert op["strategy"] == [[2, 4], [4, 1]] and op["source"]["line"] == 12 and op["node"] == "n5"
    assert op["output_layouts"][0]["partial"] == [0]
    assert op["alternatives"][2]["cost"]["communication"] == "inf"
    (coll,) = doc["collectives"]
    assert coll["kind"] == "all_reduce" and coll["mesh_axes"] == ["mp"] and coll["group_size"] == 4
    model = collective_cost("all_reduce", 4 * 32 * 4, 4, plan.profile)          # a 4 x 32 float32 slice
    assert coll["bytes_per_device"] == pytest.approx(model.bytes_per_device) and coll["algorithm"] == model.algorithm
    assert doc["tensors"][0]["layout"]["tensor_map"] == [1, 0]
    assert doc["tensors"][0]["bytes_per_device"] == 4 * 4 * 4
    cost = doc["cost"]
    assert cost["compute"] == pytest.approx(1.2e-6) and cost["communication"] == pytest.approx(coll["time"])
    assert cost["fits_memory"] is True
    again = Plan.from_json(doc)
    assert again.to_json() == doc
    bundle = plan._repr_mimebundle_()
    assert bundle[PLAN_MIME] == doc and "MatMul" in bundle["text/plain"] and "all_reduce(mp)" in bundle["text/plain"]


def test_schema_ships_with_the_package_and_is_valid():
    schema = load("plan")
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["format"]["const"] == PLAN_MIME


def broken(mutate):
    doc = copy.deepcopy(matmul_plan().to_json())
    mutate(doc)
    return doc


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("mesh"), r"at \(document\): 'mesh' is a required property"),
    (lambda d: d["ops"][0]["strategy"][0].__setitem__(1, 0), r"at ops/0/strategy/0/1: 0 is less than the minimum"),
    (lambda d: d["tensors"][1].__setitem__("id", "w"), r"at tensors/1/id: 'w' does not match"),
    (lambda d: d["collectives"][0].__setitem__("kind", "all_sum"), r"at collectives/0/kind: 'all_sum' is not one of"),
    (lambda d: d["ops"][1]["inputs"].__setitem__(0, "t9"), r"ops/1/inputs/0: refers to unknown tensor 't9'"),
    (lambda d: d["tensors"][3].__setitem__("id", "t2"), r"tensors/3/id: tensor id 't2' is defined twice"),
    (lambda d: d["ops"][0]["alternatives"][1].__setitem__("chosen", True),
     r"ops/0/alternatives: exactly one alternative must be chosen, got 2"),
    (lambda d: d["ops"][0]["alternatives"][0].__setitem__("strategy", [[1, 1], [1, 1]]),
     r"ops/0/alternatives/0/strategy: the chosen alternative"),
    (lambda d: d["ops"][0]["output_layouts"][0].__setitem__("partial", []),
     r"ops/0/output_layouts/0: differs from the layout of tensor 't2'"),
    (lambda d: d["tensors"][0]["layout"].__setitem__("slice_shape", [8, 16]),
     r"tensors/0/layout/slice_shape: \[8, 16\] but shape \[8, 16\] split \[2, 4\] gives \[4, 4\]"),
    (lambda d: d["tensors"][0]["layout"].__setitem__("tensor_map", [2, 0]),
     r"tensors/0/layout/tensor_map/0: 2 is not a mesh axis"),
    (lambda d: d["tensors"][0]["layout"].__setitem__("tensor_map", [0, 0]),
     r"tensors/0/layout/tensor_map/1: mesh axis 0 is used twice"),
    (lambda d: d["collectives"][0].__setitem__("mesh_axes", ["tp"]), r"collectives/0/mesh_axes/0: 'tp' is not a mesh"),
    (lambda d: d["collectives"][0].__setitem__("group_size", 2), r"collectives/0/group_size: 2 but mesh axes"),
    (lambda d: d["collectives"][0].__setitem__("index", 1), r"collectives/0: output 1 of op 'op0' is not tensor"),
    (lambda d: d["collectives"][0].__setitem__("op", "op7"), r"collectives/0/op: refers to unknown op 'op7'"),
    (lambda d: d["tensors"][2].__setitem__("producer", "op1"),
     r"tensors/2/producer: op 'op1' does not list 't2' among its outputs"),
    (lambda d: d["ops"][0]["strategy"].pop(), r"ops/0/strategy: 1 entries for 2 inputs"),
    (lambda d: d["mesh"].__setitem__("device_ids", [0, 1, 2]), r"mesh/device_ids: need 8 distinct ids"),
])
def test_malformed_plans_fail_with_path_errors(mutate, message):
    with pytest.raises(PlanJSONError, match=message):
        validate_plan_json(broken(mutate))


def test_plan_building_errors():
    plan = Plan(DeviceMesh((2,)))
    other = DeviceMesh((4,))
    with pytest.raises(ValueError, match="has a layout on DeviceMesh"):
        plan.add_tensor("x", TensorLayout.replicated(other, (4,)))
    with pytest.raises(ValueError, match="role must be one of"):
        plan.add_tensor("x", TensorLayout.replicated(plan.mesh, (4,)), role="weight")
    with pytest.raises(ValueError, match="unknown tensor 't5'"):
        plan.add_op("Add", ((1,),), ["t5"], [])
