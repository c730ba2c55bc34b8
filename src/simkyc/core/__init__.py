"""The functional core: numpy arrays and dataclasses in, dataclasses out. No I/O, no globals."""
