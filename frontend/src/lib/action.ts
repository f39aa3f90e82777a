import { useState } from "react";
import { announce } from "./announcer";
import { failureMessage } from "./problem";

/**
 * A button's request (cancel, revoke, mark as read, download…): `run` sends it and says whether
 * it worked; when it fails, `failure` holds why, for a notice beside the button, and screen
 * readers hear it. A failed request is never reported as done.
 */
export function useAction() {
  const [failure, setFailure] = useState<string>();
  async function run(request: () => Promise<unknown>, success?: string): Promise<boolean> {
    setFailure(undefined);
    try {
      await request();
    } catch (error) {
      const message = failureMessage(error);
      setFailure(message);
      announce(message);
      return false;
    }
    if (success) announce(success);
    return true;
  }
  return { failure, run };
}
