//! The TCP session state machine of RFC 6146 §3.5.2.2, as a pure function
//! from (state, direction, flags) to (state, timer).
//!
//! CLOSED is not a state here: it is the absence of a session, handled by
//! the table (a SYN creates a session, anything else without one is
//! dropped). The lifetime on expiry is handled by the table too: in
//! ESTABLISHED it sends the probe and moves to TRANS, elsewhere it deletes.

use super::TcpFlags;

/// A TCP session's state (RFC 6146 §3.5.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TcpState {
    /// An IPv4 SYN was translated; waiting for the IPv6 SYN.
    V4Init,
    /// An IPv6 SYN was translated; waiting for the IPv4 SYN.
    V6Init,
    /// Open in both directions.
    Established,
    /// The IPv4 side sent FIN.
    V4FinRcv,
    /// The IPv6 side sent FIN.
    V6FinRcv,
    /// Both sides sent FIN; kept TCP_TRANS for the last ACKs.
    V4FinV6FinRcv,
    /// After an RST or the probe: TCP_TRANS left unless traffic resumes.
    Trans,
}

/// Which side a packet came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Dir {
    /// From the IPv6 side (outbound).
    V6,
    /// From the IPv4 side (inbound).
    V4,
}

/// What a packet does to the session's timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Set the lifetime to TCP_EST from now.
    Est,
    /// Set the lifetime to TCP_TRANS from now.
    Trans,
    /// Leave it.
    Keep,
}

/// One RFC 6146 §3.5.2.2 transition for a packet of an existing session.
/// `rst_in_fin_rcv` extends the RFC: an RST in V4/V6 FIN RCV goes to TRANS
/// as it does in ESTABLISHED.
pub(crate) fn step(
    state: TcpState,
    dir: Dir,
    flags: TcpFlags,
    rst_in_fin_rcv: bool,
) -> (TcpState, Timer) {
    use TcpState::*;
    let syn = flags.contains(TcpFlags::SYN);
    let fin = flags.contains(TcpFlags::FIN);
    let rst = flags.contains(TcpFlags::RST);
    match state {
        V4Init if dir == Dir::V6 && syn => (Established, Timer::Est),
        V6Init if dir == Dir::V4 && syn => (Established, Timer::Est),
        // A retransmitted opening SYN keeps the opening alive.
        V6Init if dir == Dir::V6 && syn => (V6Init, Timer::Trans),
        V4Init | V6Init => (state, Timer::Keep),
        Established if rst => (Trans, Timer::Trans),
        Established if fin => (if dir == Dir::V4 { V4FinRcv } else { V6FinRcv }, Timer::Est),
        Established => (Established, Timer::Est),
        V4FinRcv if dir == Dir::V6 && fin => (V4FinV6FinRcv, Timer::Trans),
        V6FinRcv if dir == Dir::V4 && fin => (V4FinV6FinRcv, Timer::Trans),
        V4FinRcv | V6FinRcv if rst && rst_in_fin_rcv => (Trans, Timer::Trans),
        V4FinRcv | V6FinRcv => (state, Timer::Est),
        // Beyond RFC 6146, which is silent here: a SYN after both FINs opens
        // a new connection on the same four-tuple (a port reused out of
        // TIME-WAIT). Left in this state, the new connection would lose its
        // session TCP_TRANS later, mid-transfer.
        V4FinV6FinRcv if syn && dir == Dir::V6 => (V6Init, Timer::Trans),
        V4FinV6FinRcv if syn => (V4Init, Timer::Trans),
        V4FinV6FinRcv => (V4FinV6FinRcv, Timer::Keep),
        Trans if rst => (Trans, Timer::Keep),
        Trans => (Established, Timer::Est),
    }
}

#[cfg(test)]
mod tests {
    use super::TcpState::*;
    use super::*;

    const NONE: TcpFlags = TcpFlags::EMPTY;
    const SYN: TcpFlags = TcpFlags::SYN;
    const FIN: TcpFlags = TcpFlags::FIN;
    const RST: TcpFlags = TcpFlags::RST;

    /// RFC 6146 §3.5.2.2, one row per transition.
    #[test]
    fn transitions() {
        let table = [
            (V6Init, Dir::V4, SYN, Established, Timer::Est),
            (V6Init, Dir::V6, SYN, V6Init, Timer::Trans),
            (V6Init, Dir::V4, NONE, V6Init, Timer::Keep),
            (V4Init, Dir::V6, SYN, Established, Timer::Est),
            (V4Init, Dir::V4, SYN, V4Init, Timer::Keep),
            (Established, Dir::V4, FIN, V4FinRcv, Timer::Est),
            (Established, Dir::V6, FIN, V6FinRcv, Timer::Est),
            (Established, Dir::V6, RST, Trans, Timer::Trans),
            (Established, Dir::V4, RST.union(FIN), Trans, Timer::Trans),
            (Established, Dir::V4, NONE, Established, Timer::Est),
            (V4FinRcv, Dir::V6, FIN, V4FinV6FinRcv, Timer::Trans),
            (V4FinRcv, Dir::V4, FIN, V4FinRcv, Timer::Est),
            (V4FinRcv, Dir::V6, NONE, V4FinRcv, Timer::Est),
            (V4FinRcv, Dir::V6, RST, V4FinRcv, Timer::Est),
            (V6FinRcv, Dir::V4, FIN, V4FinV6FinRcv, Timer::Trans),
            (V6FinRcv, Dir::V6, NONE, V6FinRcv, Timer::Est),
            (V4FinV6FinRcv, Dir::V4, NONE, V4FinV6FinRcv, Timer::Keep),
            (V4FinV6FinRcv, Dir::V6, FIN, V4FinV6FinRcv, Timer::Keep),
            (V4FinV6FinRcv, Dir::V6, SYN, V6Init, Timer::Trans),
            (V4FinV6FinRcv, Dir::V4, SYN, V4Init, Timer::Trans),
            (Trans, Dir::V4, NONE, Established, Timer::Est),
            (Trans, Dir::V6, FIN, Established, Timer::Est),
            (Trans, Dir::V6, RST, Trans, Timer::Keep),
        ];
        for (from, dir, flags, to, timer) in table {
            assert_eq!(
                step(from, dir, flags, false),
                (to, timer),
                "{from:?} {dir:?} {flags:?}"
            );
        }
        assert_eq!(step(V4FinRcv, Dir::V6, RST, true), (Trans, Timer::Trans));
        assert_eq!(step(V6FinRcv, Dir::V4, RST, true), (Trans, Timer::Trans));
    }
}
