import { sql } from "drizzle-orm";
import { stores } from "./app";

/**
 * Fault injection at the database, the one place a real insert can be made to fail on cue: a
 * trigger `name` that refuses every chat message whose text is exactly `text`.
 */
export async function refuseMessagesWithText(name: string, text: string): Promise<void> {
  const { db } = stores();
  await db.execute(sql.raw(`
    create or replace function ${name}() returns trigger language plpgsql as $$
    begin
      if new.text = '${text.replaceAll("'", "''")}' then raise exception 'refused by the test trigger ${name}'; end if;
      return new;
    end $$`));
  await db.execute(sql.raw(`create or replace trigger ${name} before insert on chat_messages for each row execute function ${name}()`));
}
