/**
 * The wire contract between clients, managers, peers and workers: one zod
 * schema for each request and response body. The manager checks each request
 * body with it and the client each answer, so both read the same contract;
 * the types are the schemas' z.infer.
 *
 * Public API (client token, `Authorization: Bearer <clientToken>`):
 *   PUT  /enqueue?iterations=N   body: form `data=…` | JSON {"data": "…"} | text/plain
 *                                → 200 {"id": number}
 *                                body: JSON array [{data, iterations}, …] → 200 {"ids": number[]}
 *
 *   Staged upload, for batches of any size, all or nothing (what `enqueue --file` uses past one part):
 *   POST /enqueue/batches                       → 201 {"batch": string}   (a random id)
 *   PUT  /enqueue/batches/:batch/:part[?iterations=N]
 *                                body: JSON array like a batch PUT /enqueue, checked the same way
 *                                → 200 {"batch", "part", "count"}
 *        Parts are numbered 1…N. A part sent again replaces the earlier copy (never doubles), so
 *        a part whose answer was lost may simply be sent again. Nothing is queued yet.
 *   POST /enqueue/batches/:batch/commit  body: {"parts": N}
 *                                → 200 {"ids": number[]}  all staged jobs, part then line order, in ONE transaction
 *        Committing again answers the same ids (nothing is enqueued twice). 409 when a part of 1…N is
 *        missing or one outside it is staged; 404 for an unknown batch. A batch not committed within
 *        an hour is dropped. Errors about one job start "job <i>: " (i counts from 0 within the part).
 *
 *   POST /pullCompleted?top=N    → 200 [{"id", "result"}]  (oldest completion first, fills from peers;
 *                                  pulled once the answer went out whole, kept when the reader hung up first)
 *   POST /pullCompleted/lease?top=N&leaseMs=M → 200 {"receipt": string|null, "leaseMs", "results": [{"id", "result"}]}
 *                                (held for the reader, not pulled until acknowledged; back to completed
 *                                 when released or after leaseMs. Same waitMs/local as /pullCompleted)
 *   POST /pullCompleted/ack      {"receipt"} → 200 {"count"}  (pulled now; idempotent, any manager routes it)
 *   POST /pullCompleted/release  {"receipt"} → 200 {"count"}  (completed again at once)
 *   GET  /jobs/:id               → 200 JobView | 404
 *   GET  /status                 → 200 ManagerStatus   (client or worker token)
 *   GET  /metrics                → Prometheus text     (client or worker token)
 *   GET  /healthz                → 200 {"ok": true, …} | 503 (no auth)
 *
 * Internal API (worker token only; a client token gets 403):
 *   POST /internal/lease      LeaseRequest     → LeaseResponse   (long-poll up to waitMs)
 *   POST /internal/complete   CompleteRequest  → CompleteResponse
 *   POST /internal/heartbeat  HeartbeatRequest → HeartbeatResponse
 *   POST /internal/reserve?top=N&leaseMs=M     → {"token", "results"} (this manager's own results, held)
 *   POST /internal/ack | /internal/release {"token"} → {"count"}
 *   POST /internal/logs       {"workerId", "lines": string[]} → {"kept"}
 *
 * Errors everywhere: {"error": {"code": string, "message": string}}.
 */

export { describeIssue } from './fields.js';
export * from './internal.js';
export * from './jobs.js';
export * from './public.js';
export * from './receipt.js';
