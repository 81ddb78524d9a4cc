;;; samokoder.el --- Samokoder through eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: languages, tools

;;; Commentary:

;; Samokoder is a language server that turns a plain-language description into a working, tested
;; application and keeps fixing and extending it.  Its code actions ("Samokoder: implement this",
;; "Samokoder: fix this", "Samokoder: run tests", ...) work through `eglot-code-actions' alone; this file
;; registers the server for JavaScript and TypeScript modes and adds commands for the rest:
;;
;;   (require 'samokoder)
;;   (samokoder-eglot-setup)            ; then M-x eglot in a project
;;
;; M-x samokoder-generate, samokoder-write-spec, samokoder-implement, samokoder-fix, samokoder-run-tests,
;; samokoder-generate-tests, samokoder-resume, samokoder-undo, samokoder-cancel, samokoder-log,
;; samokoder-status.  Questions from the spec writer come through `completing-read' / `read-string'.
;;
;; Eglot runs one server per buffer: in the modes below Samokoder takes the place of
;; typescript-language-server.

;;; Code:

(require 'eglot)
(require 'cl-lib)
(require 'flymake)

(defgroup samokoder nil
  "Samokoder: describe an application, get it built, tested and fixed."
  :group 'tools
  :prefix "samokoder-")

(defcustom samokoder-program "samokoder"
  "The samokoder binary (a name on `exec-path', or a path)."
  :type 'string)

(defcustom samokoder-modes
  '(js-mode js-ts-mode js2-mode typescript-mode typescript-ts-mode tsx-ts-mode)
  "Major modes Samokoder serves through eglot."
  :type '(repeat symbol))

(defclass samokoder-server (eglot-lsp-server) ()
  "Eglot's connection to a Samokoder server: it answers samokoder/ask and keeps samokoder/log.")

;;;###autoload
(defun samokoder-eglot-setup ()
  "Register Samokoder in `eglot-server-programs' for `samokoder-modes'."
  (add-to-list 'eglot-server-programs
               (cons samokoder-modes (list 'samokoder-server samokoder-program))))

(cl-defmethod eglot-client-capabilities ((server samokoder-server))
  "Announce that this client answers samokoder/ask."
  (let ((caps (cl-call-next-method server)))
    (plist-put caps :experimental '(:samokoderAsk t))))

;;; The log

(defconst samokoder--log-buffer "*samokoder-log*")

(defun samokoder--log (text)
  (with-current-buffer (get-buffer-create samokoder--log-buffer)
    (let ((inhibit-read-only t)
          (at-end (= (point) (point-max))))
      (save-excursion
        (goto-char (point-max))
        (insert text (if (string-suffix-p "\n" text) "" "\n")))
      (when at-end (goto-char (point-max))))
    (special-mode)))

(cl-defmethod eglot-handle-notification ((_server samokoder-server) (_method (eql samokoder/log))
                                         &key agent text &allow-other-keys)
  "Append the run's log line to *samokoder-log*."
  (samokoder--log (format "[%s] %s" agent text)))

(cl-defmethod eglot-handle-notification :before ((_server samokoder-server) (_method (eql window/showMessage))
                                                 &key message &allow-other-keys)
  "Put the server's messages (each run's end among them) in *samokoder-log* too."
  (samokoder--log (format "[run] %s" message)))

(cl-defmethod eglot-handle-request ((_server samokoder-server) (_method (eql samokoder/ask))
                                    &key question choices &allow-other-keys)
  "Ask the user QUESTION, offering CHOICES; an empty answer leaves it for questions.md."
  (let* ((choices (append choices nil))
         (answer (if choices
                     (completing-read (concat question " ") choices nil nil)
                   (read-string (concat question " ")))))
    (list :answer (if (string-empty-p answer) nil answer))))

;;; Commands

(defun samokoder--server ()
  (eglot--current-server-or-lose))

(defun samokoder--execute (command &rest arguments)
  "Run Samokoder's COMMAND with ARGUMENTS; report the run it started."
  (let* ((server (samokoder--server))
         (result (if (fboundp 'eglot-execute)
                     (eglot-execute server (list :command command :arguments (vconcat arguments)))
                   (eglot-execute-command server command (vconcat arguments))))
         (run (and (listp result) (plist-get result :runId))))
    (when run
      (message "Samokoder: %s started (run %s); M-x samokoder-log shows it" command run))
    result))

(defun samokoder--uri ()
  (eglot--path-to-uri (buffer-file-name)))

;;;###autoload
(defun samokoder-generate (description)
  "Build an application from DESCRIPTION in the project: spec, plan, code, tests, fixes."
  (interactive "sDescribe the application: ")
  (samokoder--execute "samokoder.generate" (list :description description)))

;;;###autoload
(defun samokoder-write-spec (description)
  "Write .samokoder/spec.md for DESCRIPTION, or for the project as it is when DESCRIPTION is empty."
  (interactive "sDescribe the application (empty: the project as it is): ")
  (samokoder--execute "samokoder.writeSpec"
                      (if (string-empty-p description) eglot--{} (list :description description))))

;;;###autoload
(defun samokoder-implement (beg end)
  "Implement the TODO(samokoder) comment at point, or the region from BEG to END."
  (interactive (if (use-region-p) (list (region-beginning) (region-end)) (list (point) (point))))
  (samokoder--execute "samokoder.implement"
                      (list :uri (samokoder--uri)
                            :range (list :start (eglot--pos-to-lsp-position beg)
                                         :end (eglot--pos-to-lsp-position end)))))

(defun samokoder--diagnostics-here ()
  "The LSP diagnostics flymake shows on this line, most specific first."
  (let ((diags (flymake-diagnostics (line-beginning-position) (line-end-position))))
    (delq nil (mapcar (lambda (d) (cdr (assoc 'eglot-lsp-diag (flymake-diagnostic-data d)))) diags))))

;;;###autoload
(defun samokoder-fix ()
  "Fix the problem on this line (a failing test, or any diagnostic), or the failing tests."
  (interactive)
  (let ((diags (samokoder--diagnostics-here)))
    (if (null diags)
        (samokoder--execute "samokoder.fix")
      (let* ((titles (mapcar (lambda (d) (cons (plist-get d :message) d)) diags))
             (diag (if (cdr diags)
                       (cdr (assoc (completing-read "Fix which problem? " titles nil t) titles))
                     (car diags))))
        (samokoder--execute "samokoder.fix" (list :uri (samokoder--uri) :diagnostic diag))))))

;;;###autoload
(defun samokoder-run-tests ()
  "Run the project's tests in the sandbox; failures become diagnostics."
  (interactive)
  (samokoder--execute "samokoder.runTests"))

;;;###autoload
(defun samokoder-run ()
  "Run the project's app in the sandbox; its URL opens in a browser once it listens."
  (interactive)
  (samokoder--execute "samokoder.run"))

;;;###autoload
(defun samokoder-stop ()
  "Stop the app `samokoder-run' started."
  (interactive)
  (samokoder--execute "samokoder.stop"))

;;;###autoload
(defun samokoder-generate-tests ()
  "Write tests for this file in a new test file, and correct them until they pass."
  (interactive)
  (samokoder--execute "samokoder.generateTests" (list :uri (samokoder--uri))))

;;;###autoload
(defun samokoder-resume ()
  "Resume the last run that stopped."
  (interactive)
  (samokoder--execute "samokoder.resume" eglot--{}))

;;;###autoload
(defun samokoder-undo ()
  "Undo the last run, as one edit."
  (interactive)
  (let* ((runs (plist-get (jsonrpc-request (samokoder--server) :samokoder/runs '(:limit 20)) :runs))
         (run (cl-find-if (lambda (r) (and (not (equal (plist-get r :status) "running"))
                                           (not (equal (plist-get r :kind) "undo"))))
                          runs)))
    (if (not run)
        (message "Samokoder: no run to undo")
      (when (y-or-n-p (format "Undo %s: %s? " (plist-get run :kind) (plist-get run :description)))
        (samokoder--execute "samokoder.undo" (list :runId (plist-get run :runId)))))))

;;;###autoload
(defun samokoder-cancel ()
  "Cancel the runs going on."
  (interactive)
  (let ((runs (plist-get (jsonrpc-request (samokoder--server) :samokoder/status eglot--{}) :runs)))
    (if (seq-empty-p runs)
        (message "Samokoder: no run is going on")
      (seq-doseq (run runs)
        (samokoder--execute "samokoder.cancel" (list :runId (plist-get run :runId)))))))

;;;###autoload
(defun samokoder-log ()
  "Show the log of every run since the server started."
  (interactive)
  (display-buffer (get-buffer-create samokoder--log-buffer)))

;;;###autoload
(defun samokoder-status ()
  "The model, the sandbox image and the runs going on."
  (interactive)
  (let* ((status (jsonrpc-request (samokoder--server) :samokoder/status eglot--{}))
         (runs (plist-get status :runs)))
    (message "Samokoder: %s/%s, image %s; %s"
             (plist-get status :provider) (plist-get status :model) (plist-get status :image)
             (if (seq-empty-p runs)
                 "no run is going on"
               (mapconcat (lambda (r) (format "%s: %s" (plist-get r :kind) (plist-get r :message))) runs "; ")))))

(provide 'samokoder)
;;; samokoder.el ends here
