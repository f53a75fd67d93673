ALTER TABLE "chat_sessions" ADD COLUMN "visitor_id" text;--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD COLUMN "visitor_provided_vars" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "widgets" ADD COLUMN "identity_secret" text;--> statement-breakpoint
ALTER TABLE "widgets" ADD COLUMN "identity_secret_created_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "widgets" ADD COLUMN "require_identity" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "widgets" ADD COLUMN "resume_visitor_sessions" boolean DEFAULT true NOT NULL;--> statement-breakpoint
CREATE INDEX "chat_sessions_widget_visitor_activity_idx" ON "chat_sessions" USING btree ("widget_id","visitor_id","last_activity_at");--> statement-breakpoint
ALTER TABLE "widgets" ADD CONSTRAINT "widgets_identity_complete" CHECK (("widgets"."identity_secret" is null) = ("widgets"."identity_secret_created_at" is null));