CREATE TABLE "chat_messages" (
	"session_id" uuid NOT NULL,
	"idx" integer NOT NULL,
	"client_message_id" text,
	"role" text NOT NULL,
	"text" text DEFAULT '' NOT NULL,
	"parts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "chat_messages_pk" PRIMARY KEY("session_id","idx"),
	CONSTRAINT "chat_messages_client_id_unique" UNIQUE("session_id","client_message_id"),
	CONSTRAINT "chat_messages_role_known" CHECK ("chat_messages"."role" in ('user', 'assistant')),
	CONSTRAINT "chat_messages_idx_not_negative" CHECK ("chat_messages"."idx" >= 0)
);
--> statement-breakpoint
CREATE TABLE "chat_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"widget_id" uuid NOT NULL,
	"template_id" uuid,
	"tenant_id" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"channel" text DEFAULT 'chat' NOT NULL,
	"voice_lead_id" text,
	"current_node" text,
	"template_vars" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_activity_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"ended_reason" text,
	CONSTRAINT "chat_sessions_status_known" CHECK ("chat_sessions"."status" in ('active', 'ended')),
	CONSTRAINT "chat_sessions_channel_known" CHECK ("chat_sessions"."channel" in ('chat', 'voice')),
	CONSTRAINT "chat_sessions_ended_consistent" CHECK (("chat_sessions"."status" = 'ended') = ("chat_sessions"."ended_at" is not null and "chat_sessions"."ended_reason" is not null))
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"channels" text[] DEFAULT '{chat}'::text[] NOT NULL,
	"model" jsonb NOT NULL,
	"instructions" text DEFAULT '' NOT NULL,
	"greeting" text,
	"initial_turn_instruction" text,
	"variables" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"secrets" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"flow" jsonb,
	"tools" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"mcp_servers" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"presentation" jsonb DEFAULT '{"quickReplies":[],"textInput":true}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "templates_channels_known" CHECK ("templates"."channels" <@ array['chat', 'voice']::text[] and cardinality("templates"."channels") > 0)
);
--> statement-breakpoint
CREATE TABLE "widgets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" text NOT NULL,
	"template_id" uuid NOT NULL,
	"public_key" text NOT NULL,
	"allowed_origins" text[] DEFAULT '{}'::text[] NOT NULL,
	"sessions_per_ip_hour" integer DEFAULT 60 NOT NULL,
	"messages_per_ip_hour" integer DEFAULT 600 NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "widgets_public_key_unique" UNIQUE("public_key"),
	CONSTRAINT "widgets_limits_not_negative" CHECK ("widgets"."sessions_per_ip_hour" >= 0 and "widgets"."messages_per_ip_hour" >= 0)
);
--> statement-breakpoint
ALTER TABLE "chat_messages" ADD CONSTRAINT "chat_messages_session_id_chat_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."chat_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_widget_id_widgets_id_fk" FOREIGN KEY ("widget_id") REFERENCES "public"."widgets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "widgets" ADD CONSTRAINT "widgets_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "chat_sessions_widget_status_activity_idx" ON "chat_sessions" USING btree ("widget_id","status","last_activity_at");--> statement-breakpoint
CREATE INDEX "chat_sessions_status_activity_idx" ON "chat_sessions" USING btree ("status","last_activity_at");--> statement-breakpoint
CREATE INDEX "templates_tenant_idx" ON "templates" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "widgets_template_idx" ON "widgets" USING btree ("template_id");