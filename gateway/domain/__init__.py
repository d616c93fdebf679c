"""Business rules (SPEC R1-R16) as service functions, independent of GraphQL.

Each function takes the session of the caller's transaction and keyword arguments, checks the
rules it is responsible for and raises a ``RuleViolation`` (a contract error naming the rule)
before changing anything, so a refused change leaves no trace but its access-log entry.
"""
