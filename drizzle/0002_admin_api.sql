CREATE TABLE "admin_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"display_prefix" text NOT NULL,
	"key_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "admin_keys_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "turn_usage" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"widget_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"template_id" uuid,
	"message_idx" integer,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"model" text NOT NULL,
	"finish_reason" text,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"cached_input_tokens" integer,
	"reasoning_tokens" integer,
	"tool_calls" integer DEFAULT 0 NOT NULL,
	"time_to_first_token_ms" integer,
	"duration_ms" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "templates" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "widgets" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "admin_keys" ADD CONSTRAINT "admin_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "admin_keys_tenant_created_idx" ON "admin_keys" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "turn_usage_tenant_created_idx" ON "turn_usage" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "turn_usage_session_idx" ON "turn_usage" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "chat_sessions_tenant_created_idx" ON "chat_sessions" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "widgets_tenant_created_idx" ON "widgets" USING btree ("tenant_id","created_at");