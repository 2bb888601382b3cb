/**
 * The reason a long-poll's wait stops when its caller hangs up: a given
 * reason spares building an AbortError (with its stack) at the end of every
 * long-poll, since a response closes when it is answered too.
 */
export const HUNG_UP = new Error('the caller hung up');
