ALTER TABLE "templates" ADD COLUMN "turns_per_session" integer DEFAULT 50 NOT NULL;--> statement-breakpoint
ALTER TABLE "widgets" ADD COLUMN "daily_token_budget" integer;--> statement-breakpoint
CREATE INDEX "turn_usage_widget_created_idx" ON "turn_usage" USING btree ("widget_id","created_at");--> statement-breakpoint
ALTER TABLE "templates" ADD CONSTRAINT "templates_turns_per_session_not_negative" CHECK ("templates"."turns_per_session" >= 0);--> statement-breakpoint
ALTER TABLE "widgets" ADD CONSTRAINT "widgets_budget_positive" CHECK ("widgets"."daily_token_budget" is null or "widgets"."daily_token_budget" > 0);