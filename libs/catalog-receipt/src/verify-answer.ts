// Verifying a saved `catalog run --json` answer: the receipt's layout, key id and FALCON-1024
// signature, and that the output shown next to it is the one it signs. Shared by
// `catalog verify-receipt` and `stoq verify-receipt` (apps do not import apps).
import { checkExecuteResponse } from './check-response';
import type { FalconVerify, ReceiptVerdict } from './receipt';
import { executeFromJson, type ExecuteJson } from './response-json';

export class SavedAnswerError extends Error {
  readonly code = 'NOT_A_SAVED_ANSWER';
}

/** Checks a saved answer (the JSON text). Throws SavedAnswerError when it is not one. */
export function verifySavedAnswer(json: string, verify: FalconVerify, expectedKeyId?: Uint8Array): ReceiptVerdict {
  let res;
  try {
    res = executeFromJson(JSON.parse(json) as ExecuteJson);
  } catch (cause) {
    throw new SavedAnswerError(`not a saved catalog run --json answer: ${(cause as Error).message}`, { cause });
  }
  return checkExecuteResponse(res, verify, expectedKeyId);
}
