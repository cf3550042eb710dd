use super::*;

#[test]
fn advancing_moves_now_and_stays_bounded() {
    let clock = SandboxClock::new();
    let before = clock.now_secs();
    clock.advance(3600);
    assert_eq!(clock.offset_secs(), 3600);
    assert!(clock.now_secs() >= before + 3600);
    clock.advance(i64::MAX);
    clock.advance(i64::MAX);
    assert_eq!(clock.offset_secs(), MAX_OFFSET_SECS);
    clock.advance(i64::MIN);
    assert_eq!(clock.offset_secs(), 0);
    clock.advance(i64::MIN);
    clock.advance(i64::MIN);
    assert_eq!(clock.offset_secs(), -MAX_OFFSET_SECS);
    // Time arithmetic on the clock cannot overflow.
    assert!(clock.now_secs().checked_add(i64::from(u32::MAX)).is_some());
}
