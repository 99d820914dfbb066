/**
 * Time as the client sees it: the runtime's injected clock, so that token refresh, backoff, rate
 * limiting and request timeouts run on the same clock (and the same fake in tests) as the
 * controllers that call the client.
 */
export { type Clock, realClock as systemClock, sleep } from '../runtime/clock.ts';
