//! The emulator's test clock: token lifetimes can run faster than real time and jump forward.
//!
//! Emulated time starts equal to wall-clock time. With speed N, one real second is N emulated
//! seconds; `advance` adds a fixed offset. Only token expiry uses emulated time; timestamps such
//! as `createdTime` and the SigV4 skew check use the real clock.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock seconds since the Unix epoch, with fractions.
pub fn real_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

#[derive(Debug)]
struct Anchor {
    real: f64,
    emulated: f64,
    speed: f64,
}

/// A clock that maps real time to emulated time.
#[derive(Debug)]
pub struct Clock {
    anchor: Mutex<Anchor>,
}

impl Clock {
    /// A clock running at `speed` (values that are not finite and positive mean 1).
    pub fn new(speed: f64) -> Self {
        let now = real_now();
        Clock {
            anchor: Mutex::new(Anchor {
                real: now,
                emulated: now,
                speed: sanitize(speed),
            }),
        }
    }

    /// Emulated seconds since the epoch.
    pub fn now(&self) -> f64 {
        self.now_at(real_now())
    }

    fn now_at(&self, real: f64) -> f64 {
        let a = self.anchor.lock().expect("clock lock");
        a.emulated + (real - a.real) * a.speed
    }

    /// The current speed factor.
    pub fn speed(&self) -> f64 {
        self.anchor.lock().expect("clock lock").speed
    }

    /// Change the speed from now on; emulated time does not jump.
    pub fn set_speed(&self, speed: f64) {
        let real = real_now();
        let mut a = self.anchor.lock().expect("clock lock");
        a.emulated += (real - a.real) * a.speed;
        a.real = real;
        a.speed = sanitize(speed);
    }

    /// Move emulated time forward.
    pub fn advance(&self, by: Duration) {
        self.anchor.lock().expect("clock lock").emulated += by.as_secs_f64();
    }

    /// Seconds emulated time is ahead of real time.
    pub fn offset(&self) -> f64 {
        let real = real_now();
        self.now_at(real) - real
    }

    /// The real wall-clock time at which emulated time will reach `emulated` (given the current
    /// speed), so that clients scheduling by wall clock refresh in time.
    pub fn real_time_of(&self, emulated: f64) -> f64 {
        let real = real_now();
        let now = self.now_at(real);
        real + (emulated - now) / self.speed()
    }
}

fn sanitize(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_emulated_time_and_speed_scales_expiry() {
        let clock = Clock::new(1.0);
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() - before >= 3600.0);
        assert!((clock.offset() - 3600.0).abs() < 1.0);

        let fast = Clock::new(100.0);
        let expiry = fast.now() + 1000.0;
        // 1000 emulated seconds at speed 100 are 10 real seconds.
        let real = fast.real_time_of(expiry);
        assert!((real - real_now() - 10.0).abs() < 0.5, "{real}");
        fast.set_speed(-3.0);
        assert_eq!(fast.speed(), 1.0);
    }
}
