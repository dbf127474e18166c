// The tree's one clock abstraction lives in @stoq/core (the transport needs it too); RPC
// modules import it from here.
export { systemClock, delay, type Clock, type TimerHandle } from '@stoq/core';
