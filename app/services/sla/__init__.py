"""The legal clock: the working-day calendar, holidays, SLA policies and clocks, and the scan."""
