ALTER TABLE "chat_sessions" ADD COLUMN "page_context" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD COLUMN "page_context_revision" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "templates" ADD COLUMN "page_context" jsonb DEFAULT '{"allowedKeys":[],"maxBytes":4096}'::jsonb NOT NULL;