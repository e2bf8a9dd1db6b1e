"""Placeholder: the train helper owns this file (fit / evaluate / predict)."""


class TrainingMixin:
    pass
