/** The event the daily schedule sends the report function: check deliveries, run nothing. */
export const WATCHDOG_EVENT = { watchdog: true } as const;
