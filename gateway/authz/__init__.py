"""Authorization: every allow and deny of the gateway is made here, from the policy files.

- ``Enforcement``: the one enforcement point, a Strawberry extension around every resolver.
- ``Decisions``: one request's memoized answers (``field``, ``allows``, ``row_scope``).
- ``compile_policy``: ``authz/model.conf`` and ``authz/policy.csv`` compiled into per-role
  tables at start-up; ``check_policy`` is ``gateway policy check``.
- ``scoped``: how each schema type declares the organizations its objects belong to.
- ``masking``: how a masked read shows a value.
- ``Disclosure``: the enforcement point's decisions applied to a compiled read's answer
  (gateway.reads), object by object, with the shapes (``Shape``, ``Selected``) it walks.
- ``unstorable``: input the log cannot hold, refused as bad input on either path.
"""

from gateway.authz.check import check_policy
from gateway.authz.decisions import Decisions
from gateway.authz.disclosure import Disclosure, Kind, Root, Selected, Shape, Unanswerable
from gateway.authz.enforcement import Enforcement, unstorable
from gateway.authz.policy import PolicyTable, compile_policy
from gateway.authz.scope import declares_scope, organizations_of, scoped

__all__ = [
    "Decisions",
    "Disclosure",
    "Enforcement",
    "Kind",
    "PolicyTable",
    "Root",
    "Selected",
    "Shape",
    "Unanswerable",
    "check_policy",
    "compile_policy",
    "declares_scope",
    "organizations_of",
    "scoped",
    "unstorable",
]
