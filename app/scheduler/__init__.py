"""The scheduler: creates runs, schedules and simulates task instances, finishes runs."""
