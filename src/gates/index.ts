export { createBodyGate, MAX_WIDGET_BODY_BYTES, messageGate, parseBody, type CreateBodyVariables, type MessageVariables } from "./body";
export { assertOriginAllowed, pageOrigin } from "../sessions/origin";
export { contextBodyGate, contextPushGate, type ContextPushVariables } from "./page-context";
export { sessionCreateGate, type SessionCreateVariables } from "./session-create";
export { sessionReadGate, type SessionReadVariables } from "./session-read";
export { tokenGate, type TokenVariables } from "./token";
export { turnGate, type TurnVariables } from "./turn";
export { answerGate, type ContinuedTurnVariables } from "./answer";
export { approvalGate, toolResultGate, type AnswerVariables } from "./answer-body";
