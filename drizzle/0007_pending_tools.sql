ALTER TABLE "templates" ADD COLUMN "client_tools" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "templates" ADD COLUMN "pending_timeout_seconds" integer DEFAULT 600 NOT NULL;