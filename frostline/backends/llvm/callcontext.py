"""The call's context: stack slots the entry gives every kernel (``stack_base``).

Word 0 caches the lowest stack address a recursion may reach (``stack``); word 1
holds flags (``NESTED``: the code runs inside a task of a parallel loop, where
a ``prange`` runs serially); the ``PAYLOAD_WORDS`` after them are where a failing
kernel leaves what its error message needs (array shapes:
``codegen.raise_shapes``), read by the error reporter (``loader``).  Every
thread that runs tasks of a parallel loop has a context of its own
(``tasks``).  This module imports no LLVM: a warm start reads it.
"""

#: The word of the flags, and the flag of code running inside a parallel task.
FLAGS = 1
NESTED = 1
#: The first word of the error payload, and how many words it has.
PAYLOAD = 2
PAYLOAD_WORDS = 62
CONTEXT_WORDS = PAYLOAD + PAYLOAD_WORDS
