ALTER TABLE "widgets" ADD COLUMN "turnstile_site_key" text;--> statement-breakpoint
ALTER TABLE "widgets" ADD COLUMN "turnstile_secret" text;--> statement-breakpoint
ALTER TABLE "widgets" ADD CONSTRAINT "widgets_turnstile_complete" CHECK (("widgets"."turnstile_site_key" is null) = ("widgets"."turnstile_secret" is null));