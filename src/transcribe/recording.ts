import { ApiError } from "../errors";

/** Largest recording push-to-talk accepts, in bytes (10 MB). */
export const MAX_AUDIO_BYTES = 10 * 1024 * 1024;

/** The transcribe route's body limit: the recording plus room for the multipart framing. */
export const MAX_TRANSCRIBE_BODY_BYTES = MAX_AUDIO_BYTES + 64 * 1024;

/** A recording as the provider gets it. */
export interface Recording {
  audio: Uint8Array;
  /** `audio/*`, without parameters (`audio/webm;codecs=opus` → `audio/webm`). */
  mediaType: string;
}

/** What a browser's MediaRecorder makes when it names no type. */
const DEFAULT_MEDIA_TYPE = "audio/webm";

/** 413 for a recording over {@link MAX_AUDIO_BYTES}. */
export const recordingTooLarge = () => new ApiError("payload_too_large", { message: `The recording is too large (at most ${MAX_AUDIO_BYTES / 1024 / 1024} MB).` });

/**
 * Gate 2 of `/transcribe`: a `multipart/form-data` body whose `audio` field is a non-empty file
 * of an audio type (or none: `audio/webm`), at most {@link MAX_AUDIO_BYTES}. 400 names the fix,
 * 413 the limit.
 */
export async function readRecording(request: Request): Promise<Recording> {
  const form = await request.formData().catch((error: unknown) => {
    if (error instanceof ApiError) throw error;
    throw new ApiError("invalid_request", { message: "Send the recording as multipart/form-data with the file in the field `audio`." });
  });
  const file = form.get("audio");
  if (!(file instanceof File)) throw new ApiError("invalid_request", { message: "The multipart field `audio` is missing or not a file: send the recording in it." });
  if (file.size === 0) throw new ApiError("invalid_request", { message: "The recording is empty: record something, then send it." });
  if (file.size > MAX_AUDIO_BYTES) throw recordingTooLarge();
  const mediaType = (file.type.split(";")[0] ?? "").trim().toLowerCase() || DEFAULT_MEDIA_TYPE;
  if (!/^audio\/[\w.+-]+$/.test(mediaType)) {
    throw new ApiError("invalid_request", { message: `The recording's type ${JSON.stringify(file.type)} is not audio: send an audio/* file (e.g. audio/webm).` });
  }
  return { audio: new Uint8Array(await file.arrayBuffer()), mediaType };
}
