/**
 * Push-to-talk: starts recording the microphone (MediaRecorder) and answers the function that
 * stops it, which answers the recording (null when empty) and releases the microphone. Rejects
 * when there is no microphone or the visitor refuses it.
 */
export async function record(): Promise<() => Promise<Blob | null>> {
  const recorder = new MediaRecorder(await navigator.mediaDevices.getUserMedia({ audio: true }));
  const chunks: Blob[] = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  recorder.start();
  return () =>
    new Promise((done) => {
      recorder.onstop = () => {
        recorder.stream.getTracks().forEach((track) => track.stop());
        const blob = new Blob(chunks, { type: recorder.mimeType });
        done(blob.size ? blob : null);
      };
      recorder.stop();
    });
}
