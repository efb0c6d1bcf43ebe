// Monotonic time for stage timings.
#ifndef FT_CORE_CLOCK_H
#define FT_CORE_CLOCK_H

// Milliseconds from an arbitrary fixed point (CLOCK_MONOTONIC).
double ft_now_ms(void);
// Seconds since the Unix epoch (wall clock), for event timestamps.
double ft_wall_s(void);

#endif
