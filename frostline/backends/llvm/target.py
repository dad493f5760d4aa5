"""The host target, the O3 pipeline and object emission (the only llvmlite.binding user
besides the loader)."""

from __future__ import annotations

import functools

import llvmlite
import llvmlite.binding as llvm

from frostline.stages.program import TargetSpec


@functools.cache
def _initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.cache
def host_target() -> TargetSpec:
    """This machine: process triple, CPU name and CPU features."""
    _initialize()
    return TargetSpec(llvm.get_process_triple(), llvm.get_host_cpu_name(),
                      llvm.get_host_cpu_features().flatten())


@functools.cache
def target_machine(spec: TargetSpec) -> llvm.TargetMachine:
    """An O3 target machine for a spec (position-independent code for loading anywhere)."""
    _initialize()
    target = llvm.Target.from_triple(spec.triple)
    return target.create_target_machine(cpu=spec.cpu, features=spec.features, opt=3,
                                        reloc="pic", codemodel="default")


def versions() -> str:
    """The toolchain versions that belong in every cache key."""
    return f"llvmlite={llvmlite.__version__} llvm={'.'.join(map(str, llvm.llvm_version_info))}"


def data_layout(spec: TargetSpec) -> str:
    return str(target_machine(spec).target_data)


def parse_verified(llvm_ir: str) -> llvm.ModuleRef:
    """Parse IR text and verify it; invalid IR is an exception here, never an abort later."""
    _initialize()
    module = llvm.parse_assembly(llvm_ir)
    module.verify()
    return module


def optimize_module(module: llvm.ModuleRef, spec: TargetSpec) -> None:
    """Run LLVM's O3 pipeline, with loop and SLP vectorisation, in place."""
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_unrolling = True
    pto.loop_interleaving = True
    pb = llvm.create_pass_builder(target_machine(spec), pto)
    pb.getModulePassManager().run(module, pb)


def emit_object(module: llvm.ModuleRef, spec: TargetSpec) -> bytes:
    return bytes(target_machine(spec).emit_object(module))


def emit_assembly(module: llvm.ModuleRef, spec: TargetSpec) -> str:
    return str(target_machine(spec).emit_assembly(module))
