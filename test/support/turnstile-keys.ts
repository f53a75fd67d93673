/** The one secret and token pair the fake siteverify accepts; any other token fails as a forged one would. */
export const FAKE_TURNSTILE = { secret: "test-turnstile-secret", passingToken: "turnstile-pass-token" } as const;
