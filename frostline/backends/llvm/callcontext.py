"""The call's context: stack slots the entry gives every kernel (``stack_base``).

Word 0 caches the lowest stack address a recursion may reach (``stack``); the
``PAYLOAD_WORDS`` after it are where a failing kernel leaves what its error
message needs (array shapes: ``codegen.raise_shapes``), read by the error
reporter (``loader``).  This module imports no LLVM: a warm start reads it.
"""

PAYLOAD_WORDS = 63
CONTEXT_WORDS = 1 + PAYLOAD_WORDS
