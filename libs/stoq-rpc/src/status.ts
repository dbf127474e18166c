// The gRPC status code set (https://grpc.github.io/grpc/core/md_doc_statuscodes.html), carried
// as the `code` of every STOQ RPC trailer. Same numbers, same meanings.

export enum Status {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** Name of a status code ("PERMISSION_DENIED"), or `CODE_<n>` for a number outside the set. */
export function statusName(code: number): string {
  const name = (Status as unknown as Record<number, string | undefined>)[code];
  return typeof name === 'string' ? name : `CODE_${code}`;
}

/** Whether `code` is one of the 17 defined status codes. */
export function isStatus(code: number): code is Status {
  return Number.isInteger(code) && code >= 0 && code <= 16;
}
